"""greentune: measured, comparable and smaller footprints for fine-tuning summarization models."""

__version__ = "0.1.0"
