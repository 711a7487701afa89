"""Storage: the bytes of a run's checkpoints in its record, and the helper that counts them."""

import os
from pathlib import Path

from greentune.finetune.storage import storage_bytes
from tiny_models import run_tiny


def test_storage_bytes_counts_files_once_and_skips_links(tmp_path: Path) -> None:
    (tmp_path / "ckpt" / "inner").mkdir(parents=True)
    (tmp_path / "ckpt" / "a.bin").write_bytes(b"x" * 1000)
    (tmp_path / "ckpt" / "inner" / "b.bin").write_bytes(b"y" * 234)
    (tmp_path / "model.safetensors").write_bytes(b"z" * 66)
    os.symlink(tmp_path / "ckpt" / "a.bin", tmp_path / "ckpt" / "inner" / "link.bin")
    assert storage_bytes(tmp_path / "ckpt", tmp_path / "model.safetensors", tmp_path / "missing") == 1300


def test_a_run_records_the_bytes_of_its_checkpoints(tmp_path: Path) -> None:
    record = run_tiny(tmp_path, **{"train.save_checkpoints": True})
    folder = tmp_path / "ledger" / "checkpoints" / "tiny" / record.run_name  # beside the SQLite ledger
    files = [path for path in folder.rglob("*") if path.is_file()]
    assert any(path.name == "model.safetensors" for path in files)
    assert record.storage_bytes == sum(path.stat().st_size for path in files)
