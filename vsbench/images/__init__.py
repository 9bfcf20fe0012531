"""Container images of the functions: the engine, the locally built base, function images."""

from .build import ImageRecord, build_image, image_for
from .engine import ContainerEngine, find_engine

__all__ = ["ContainerEngine", "ImageRecord", "build_image", "find_engine", "image_for"]
