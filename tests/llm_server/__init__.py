"""A scripted LLM server on 127.0.0.1 that speaks the providers' wire formats (used by tests and benchmarks)."""
