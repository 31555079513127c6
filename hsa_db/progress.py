"""The progress callback that long library calls accept: ``progress(stage, table, rows)``.

It is called when a table finishes a stage (``read``, ``fit``, ``sample`` or ``write``), with the
rows handled or None. The library only calls it; the command line decides what to show.
"""

from collections.abc import Callable

Progress = Callable[[str, str, "int | None"], None]
