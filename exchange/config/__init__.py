"""Configuration: the symbols and their contract terms (``symbols``), and the settings of
``exchange run`` resolved from defaults, a TOML file, the environment and flags
(``settings``). Every bad value is a :class:`~exchange.config.symbols.ConfigError`
naming the file or variable and the field."""
