"""Running the venue on the record: the sequencer that stamps, executes and group-commits
every input (``sequencer``), its synchronous form for the CLI's journaling commands
(``recorder``), the machines a journal replays through and the genesis naming them
(``machines``), and the garbage-collector tuning of a long-running process
(``gc_tuning``)."""
