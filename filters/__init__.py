"""dejunk's filtering core: filter lists in, an immutable engine out, decisions per request and page."""

from .network.decision import Decision
from .engine import Engine
from .lists.syntax import BadLine, FilterList, read_list
from .request import Request

__all__ = ["BadLine", "Decision", "Engine", "FilterList", "Request", "read_list"]
