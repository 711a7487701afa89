"""greentune.meter — see docs/DESIGN.md."""
