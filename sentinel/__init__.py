"""sentinel: placeholder package; built in a later issue."""
