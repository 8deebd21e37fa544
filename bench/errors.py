"""Errors users see, each naming the problem. The runner records them as error rows."""


class InputError(ValueError):
    """Bad input: empty text, text over the model's limit, a target out of range, an unknown parameter."""


class NotApplicableError(RuntimeError):
    """The method cannot explain this kind of model (e.g. attention methods on a CNN)."""


class AttentionNotReachableError(NotApplicableError):
    """The model's attention does not go through transformers' AttentionInterface."""
