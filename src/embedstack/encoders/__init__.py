# encoder kinds (h13-kinds)
from embedstack.encoders.colbert import ColbertEncoder as ColbertEncoder
from embedstack.encoders.kinds import MultiVectorEncoder as MultiVectorEncoder
from embedstack.encoders.kinds import SparseEncoder as SparseEncoder
from embedstack.encoders.splade import SpladeEncoder as SpladeEncoder
