"""search"""

# encoder kinds (h13-kinds)
from embedstack.search.colbert import ColbertReranker as ColbertReranker
