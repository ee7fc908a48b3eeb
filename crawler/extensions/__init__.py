"""Extensions of the healthdex crawler, one per module."""
