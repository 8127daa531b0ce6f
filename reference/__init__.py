"""Reference implementations: the ground truth the grader compares student code against.

Modules (one concept each):
    reference.device        where and how ground truth is computed (device, determinism, provenance)
    reference.sampling      logits filters, sampling, generate, beam search
    reference.models        the course's own small offline language model (built locally)
    reference.tokenization  byte-level BPE (minbpe style)
    reference.attention     softmax, causal mask, scaled dot-product and multi-head attention
    reference.retrieval     chunking, cosine similarity, retrieval, RAG

Modules are imported on demand so that `import reference` stays cheap.
"""
