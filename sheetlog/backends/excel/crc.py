"""CRC-32 arithmetic: the CRC of joined byte strings from the CRCs of the pieces, and back.

zlib computes ``crc32(a + b)`` as ``x^(8·len(b)) · crc32(a) ⊕ crc32(b)`` over GF(2) modulo the
CRC polynomial (its ``crc32_combine``, which Python's zlib does not expose). So the CRC of a part
whose middle is unchanged follows from the CRCs of its ends without reading the middle: that is
what lets an append touch only the head and the tail of a large worksheet. The polynomial
arithmetic is zlib's (reflected bit order); ``x`` has order 2^32 - 1 modulo it, which makes
shifting backwards (``uncombine``) a shift forwards by the complement.
"""

from __future__ import annotations

_POLY = 0xEDB88320  # reflected CRC-32 polynomial
_ORDER = 2**32 - 1  # x^(2^32 - 1) = 1 modulo the polynomial


def _multiply(a: int, b: int) -> int:
    """a · b modulo the polynomial (reflected: the x^0 coefficient is the top bit)."""
    product = 0
    bit = 1 << 31
    while bit:
        if a & bit:
            product ^= b
        b = (b >> 1) ^ _POLY if b & 1 else b >> 1
        bit >>= 1
    return product


def _x_powers() -> list[int]:
    """x^(2^k) for k = 0..31."""
    powers = [1 << 30]  # x^1
    for _ in range(31):
        powers.append(_multiply(powers[-1], powers[-1]))
    return powers


_X_2K = _x_powers()


def _x_power(exponent: int) -> int:
    """x^exponent modulo the polynomial."""
    exponent %= _ORDER
    result = 1 << 31  # x^0
    k = 0
    while exponent:
        if exponent & 1:
            result = _multiply(_X_2K[k], result)
        exponent >>= 1
        k += 1
    return result


def combine(crc_a: int, crc_b: int, length_b: int) -> int:
    """``crc32(a + b)`` from ``crc32(a)``, ``crc32(b)`` and ``len(b)``."""
    return _multiply(_x_power(8 * length_b), crc_a) ^ crc_b


def uncombine(crc_ab: int, crc_b: int, length_b: int) -> int:
    """``crc32(a)`` from ``crc32(a + b)``, ``crc32(b)`` and ``len(b)``."""
    return _multiply(_x_power(_ORDER - (8 * length_b) % _ORDER), crc_ab ^ crc_b)
