"""The one exception the datasets package raises for bad or missing data."""


class MNISTError(ValueError):
    """MNIST data is missing, truncated, malformed or fails its checksum.

    The message names the file and says what was expected and what was found.
    """
