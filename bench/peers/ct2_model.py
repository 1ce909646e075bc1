"""The model every peer serves: the benchmark checkpoint converted to CTranslate2 int8 by
textserve's conversion (the directory `make bench` passes), its tokenizer.json, decoded exactly as
our replicas decode it (same tokens in, greedy, forced lengths). Depends only on ctranslate2 and
tokenizers, so it runs in a peer's own venv; no textserve import."""

from __future__ import annotations

from pathlib import Path

PREFIX = {"translate": "translate English to French: ", "summarize": "summarize: "}


class PeerModel:
    def __init__(self, converted_dir: str, tokenizer_dir: str, threads: int = 1):
        import ctranslate2
        from tokenizers import Tokenizer

        self.tokenizer = Tokenizer.from_file(str(Path(tokenizer_dir) / "tokenizer.json"))
        self.translator = ctranslate2.Translator(
            converted_dir, device="cpu", compute_type="int8", inter_threads=1, intra_threads=threads
        )

    def generate(self, workload: str, texts: list[str], length: int) -> list[str]:
        """Each text with the workload's task prefix, decoded to exactly `length` tokens."""
        tokens = [self.tokenizer.encode(PREFIX[workload] + text).tokens for text in texts]
        results = self.translator.translate_batch(
            tokens, beam_size=1, max_decoding_length=length, min_decoding_length=length, max_input_length=0
        )
        out = []
        for result in results:
            ids = [self.tokenizer.token_to_id(t) for t in result.hypotheses[0]]
            kept = [i for i in ids if i is not None]
            out.append(self.tokenizer.decode(kept, skip_special_tokens=True).strip())
        return out
