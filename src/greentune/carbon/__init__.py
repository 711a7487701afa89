"""greentune.carbon — see docs/DESIGN.md."""
