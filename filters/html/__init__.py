"""Pages: decoding (encodings, charset) and rewriting a page with the cosmetic rules that apply to it."""
