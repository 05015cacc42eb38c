"""ganbench: reproduce Goodfellow et al. (2014) exactly, then change one part and compare."""

from ganbench.module import GAN

__version__ = "0.1.0"
__all__ = ["GAN", "__version__"]
