"""greentune.finetune — see docs/DESIGN.md."""
