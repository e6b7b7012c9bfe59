"""The use cases behind the commands, one module each, without UI: they take a Terminal for what they must ask or
say, and return results the CLI renders (cli/ parses; these orchestrate)."""
