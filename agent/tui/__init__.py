"""The interactive terminal UI: markdown rendering, themes and the prompt_toolkit front end."""
