"""The package's version, where every module (and the build) can read it without importing the package."""

__version__ = "0.5.0"
