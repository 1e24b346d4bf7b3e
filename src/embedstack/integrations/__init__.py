"""Adapters for LLM frameworks: `langchain`, `llamaindex`, `haystack`.

Each subpackage imports its framework and is behind its own extra
(`pip install 'embedstack[langchain]'`, ...); the core never imports a framework.
"""
