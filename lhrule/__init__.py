"""lhrule: a rule language and engine for merchant service-assessment policy."""

__version__ = "0.1.0"
