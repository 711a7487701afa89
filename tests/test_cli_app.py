"""The commands as a whole: the same option has the same spellings everywhere."""

import typer.main

from greentune.cli.app import app

COMMANDS = typer.main.get_command(app).commands


def test_every_command_that_writes_a_file_or_folder_takes_out_output_and_o() -> None:
    commands = {name: COMMANDS[name] for name in ("measure", "report", "card", "footprint", "badge")}
    spellings = {
        name: sorted(opt for param in command.params for opt in param.opts if opt in ("--out", "--output", "-o"))
        for name, command in commands.items()
    }
    assert spellings == {name: ["--out", "--output", "-o"] for name in commands}


def test_every_command_with_an_experiment_option_takes_e_too() -> None:
    with_experiment = {
        name: sorted(opt for param in command.params if "--experiment" in param.opts for opt in param.opts)
        for name, command in COMMANDS.items()
        if any("--experiment" in param.opts for param in command.params)
    }
    assert with_experiment == {name: ["--experiment", "-e"] for name in with_experiment}
    assert sorted(with_experiment) == ["badge", "bench-infer", "card", "demo", "footprint", "report", "runs", "serve"]
