"""``python -m hsa_db`` runs the command line."""

from hsa_db.cli import main

main()
