"""Errors whose message is shown to the user as is: one plain sentence each."""


class LabError(Exception):
    """Base class: the message is written for the user, not for a developer."""


class ConfigError(LabError):
    """A setting has a value the lab cannot use."""


class RejectedFile(LabError):
    """An uploaded file was not added to the knowledge base; the message says why."""


class KnowledgeBaseError(LabError):
    """A knowledge-base operation cannot be done (unknown name, bad settings, ...)."""


class ModelError(LabError):
    """A model or adapter cannot be loaded or does not fit the loaded base model."""


class StoreUnavailable(LabError):
    """The vector store cannot be opened (in use by another process, or damaged)."""
