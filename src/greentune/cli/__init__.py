"""The `greentune` command line: a Typer app whose commands call the packages."""
