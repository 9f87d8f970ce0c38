"""Offline groundedness: is each claim of an answer supported by the context the model was given?

The default hallucination scorer needs no model and no network: it splits the answer into
claims, finds the best-matching evidence sentence for each (TF-IDF over word 1-2-grams and
character 3-5-grams, cosine similarity), measures how much of the claim's content vocabulary
the context contains, and penalises claims whose specific tokens (numbers, amounts, durations,
names, product and domain names) the context does not contain, because a wrong number or an
invented name is the commonest hallucination in RAG answers and the one a lexical match would
otherwise miss. The answer is as good as its weakest claim. Pleasantries and refusals make no
factual claim and are not scored.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer

from detectors.scoring.verdict import GROUNDED, HALLUCINATED, UNKNOWN, ClaimSupport, Groundedness

# Calibrated on the demo knowledge base (llmpulse/demo/content.py: 12 articles, each with a grounded
# and a wrong answer, scored against the article, two random distractor articles and the system
# prompt, as the demo's RAG prompt holds them, 40 draws of distractors). The weakest claim of a
# grounded answer scores 0.57-0.87 there and of a wrong answer 0.00-0.30; hand-written paraphrases
# of the grounded answers score 0.39-0.71. A claim below this threshold is unsupported: it sits
# just above the wrong answers so that a loose but faithful paraphrase is not flagged.
UNSUPPORTED_BELOW = 0.35
# A specific token (number, name) missing from the context multiplies a claim's support by this:
# one invented figure takes an otherwise verbatim claim (support ~0.9) below the threshold.
MISSING_TOKEN_FACTOR = 0.3
# Weight of the best sentence's TF-IDF similarity against the share of the claim's content words
# found anywhere in the context (the rest): similarity rewards a close match, coverage keeps a
# claim that stitches two evidence sentences together from being punished.
SIMILARITY_WEIGHT = 0.5
MIN_CLAIM_WORDS = 3  # content words; "Yes." or "Sure thing!" claim nothing checkable
MIN_CLAUSE_WORDS = 4  # a shorter clause leans on its neighbour ("…codes; use one of them…"): kept whole
STEM_LENGTH = 5  # truncation stemming: "refunded" and "refunds" both become "refun"
MAX_QUOTE = 90  # characters of a claim quoted in a reason

# --- text units -------------------------------------------------------------------------------------

_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+|\n+\s*(?:[-*•]|\d+[.)])?\s*")
_CLAUSE_BREAK = re.compile(r"(;\s+|,\s+(?:and|but|while|whereas)\s+|\s+(?:but|whereas)\s+)")
_WORD = re.compile(r"[a-z0-9]+")
_TOKEN = re.compile(r"[A-Za-z0-9$][A-Za-z0-9\-_.@/]*[A-Za-z0-9%]|[A-Za-z0-9]")
_NUMBER = re.compile(r"(?<![\w.])\d{1,3}(?:,\d{3})+(?:\.\d+)?(?!\w)|(?<![\w.,])\d+(?:\.\d+)?(?![\w])")
_NUMBER_WORDS = {  # "one" is left out: it is far more often a pronoun ("use one of them")
    "two": "2", "three": "3", "four": "4", "five": "5", "six": "6", "seven": "7", "eight": "8", "nine": "9",
    "ten": "10", "eleven": "11", "twelve": "12", "thirteen": "13", "fourteen": "14", "fifteen": "15",
    "sixteen": "16", "seventeen": "17", "eighteen": "18", "nineteen": "19", "twenty": "20", "thirty": "30",
    "forty": "40", "fifty": "50", "sixty": "60", "ninety": "90", "hundred": "100", "thousand": "1000",
    "million": "1000000", "dozen": "12",
}
# Function words only. scikit-learn's list also drops "no", "never", "nothing", "keep", "forever"
# and "full", which is where an invented claim differs from the context.
STOP_WORDS = frozenset({
    "a", "an", "the", "and", "or", "but", "if", "then", "so", "than", "that", "this", "these", "those",
    "there", "here", "it", "its", "they", "them", "their", "theirs", "we", "us", "our", "ours", "you", "your",
    "yours", "he", "him", "his", "she", "her", "i", "me", "my", "mine", "one", "ones", "is", "are", "was",
    "were", "be", "been", "being", "am", "do", "does", "did", "done", "have", "has", "had", "having", "will",
    "would", "shall", "should", "can", "could", "may", "might", "must", "of", "to", "in", "on", "at", "by",
    "for", "from", "with", "without", "within", "about", "as", "into", "onto", "over", "under", "up", "down",
    "out", "off", "via", "per", "through", "during", "before", "after", "until", "between", "among", "any",
    "some", "each", "every", "such", "also", "just", "too", "very", "what", "which", "who", "whom", "whose",
    "when", "where", "why", "how", "all", "both", "either", "neither", "own", "same", "other", "another", "s",
    "t", "d", "ll", "m", "re", "ve", "don", "isn", "aren", "doesn", "didn", "won",
})
WORD_NGRAMS = TfidfVectorizer(ngram_range=(1, 2), stop_words=sorted(STOP_WORDS), token_pattern=r"(?u)\b\w+\b")
CHAR_NGRAMS = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5))
_ANALYZERS = (WORD_NGRAMS.build_analyzer(), CHAR_NGRAMS.build_analyzer())
_ABBREVIATIONS = ("e.g.", "i.e.", "etc.", "vs.", "approx.", "mr.", "ms.", "dr.", "no.", "fig.")
_NOT_NAMES = frozenset({"i", "ok", "okay"})

_PLEASANTRY = re.compile(
    r"hope (this|that|it) helps|let me know|feel free|don'?t hesitate|do not hesitate|happy to help|"
    r"glad to help|pleasure to help|here to help|reach out|get back in touch|any other questions|"
    r"anything else|have a (great|nice|good) (day|one)|you'?re welcome|thank(s| you)|great question",
    re.IGNORECASE,
)
_REFUSAL = re.compile(
    r"\b(I|we) (do not|don'?t|cannot|can'?t|could ?n[o']t) (have|find|see|know|answer|help with|confirm)|"
    r"\b(I'?m|I am) (not sure|unable|afraid)|\bno information (about|on)|"
    r"\b(context|documentation|articles?|sources?) (does|do) ?n[o']t (contain|mention|cover|say)|"
    r"\bnot (mentioned|covered|specified) in\b|\bopen a (support )?ticket|\bcontact (our )?support",
    re.IGNORECASE,
)


def split_sentences(text: str) -> list[str]:
    """Sentences and list items; a period inside "84.90" or "status.acme.example" or after "e.g." does not split."""
    sentences: list[str] = []
    for piece in _SENTENCE_END.split(text.replace("\u2019", "'")):
        piece = piece.strip(" \t-*•")
        if sentences and sentences[-1].lower().endswith(_ABBREVIATIONS):
            sentences[-1] = f"{sentences[-1]} {piece}".rstrip()
        elif piece:
            sentences.append(piece)
    return sentences


def _clauses(sentence: str) -> list[str]:
    """A sentence's independent clauses, so one invented half is not averaged away by a true half."""
    parts = _CLAUSE_BREAK.split(sentence)  # clause, separator, clause, …
    clauses = [parts[0]]
    for separator, piece in zip(parts[1::2], parts[2::2], strict=True):
        if min(len(_content_words(piece)), len(_content_words(clauses[-1]))) < MIN_CLAUSE_WORDS:
            clauses[-1] += separator + piece
        else:
            clauses.append(piece)
    return [c.strip(" ,;") for c in clauses if c.strip(" ,;")]


def _content_words(text: str) -> list[str]:
    return [w for w in _WORD.findall(text.lower()) if w not in STOP_WORDS]


def _stems(text: str) -> set[str]:
    return {w[:STEM_LENGTH] for w in _content_words(text)}


def _is_chatter(sentence: str) -> bool:
    """A pleasantry or a refusal that states no figure or name of its own: nothing to check."""
    return bool(_PLEASANTRY.search(sentence) or _REFUSAL.search(sentence)) and not _specific_tokens(sentence)


def extract_claims(answer: str) -> list[str]:
    """The checkable statements of an answer, in order."""
    claims = []
    for sentence in split_sentences(answer):
        if not _is_chatter(sentence) and len(_content_words(sentence)) >= MIN_CLAIM_WORDS:
            claims.extend(_clauses(sentence))
    return claims


# --- specific tokens --------------------------------------------------------------------------------


def _numbers(text: str) -> set[str]:
    found = {_canonical_number(m.group()) for m in _NUMBER.finditer(text)}
    return found | {_NUMBER_WORDS[w] for w in _WORD.findall(text.lower()) if w in _NUMBER_WORDS}


def _canonical_number(raw: str) -> str:
    """"3,000" → "3000", "84.90" → "84.9", "08" → "8": the same amount written two ways matches."""
    value = raw.replace(",", "")
    if "." in value:
        value = value.rstrip("0").rstrip(".")
    return value.lstrip("0") or "0"


def _names(text: str) -> set[str]:
    """Tokens that name something: capitalised mid-sentence, all caps, letters with digits, domains."""
    found = set()
    for sentence in split_sentences(text):
        for index, match in enumerate(_TOKEN.finditer(sentence)):
            token = match.group()
            if _is_name(token, first=index == 0):
                found.add(token.lower())
    return found


def _is_name(token: str, *, first: bool) -> bool:
    if token.lower() in _NOT_NAMES or token.replace(".", "").replace(",", "").isdigit():
        return False
    has_alpha, has_digit = any(c.isalpha() for c in token), any(c.isdigit() for c in token)
    if (has_alpha and has_digit) or ("." in token.strip(".") and has_alpha) or "@" in token:
        return True
    capitals = sum(c.isupper() for c in token)
    return capitals > 1 or (capitals == 1 and not first and token[0].isupper())


def _specific_tokens(text: str) -> set[str]:
    return _numbers(text) | _names(text)


def _known(token: str, vocabulary: set[str] | frozenset[str]) -> bool:
    """A name counts as present if it, or every word of a hyphenated or dotted name, is."""
    return token in vocabulary or all(part in vocabulary for part in re.split(r"[\-_./@]", token) if part)


def _vocabulary(texts: Iterable[str]) -> set[str]:
    vocabulary: set[str] = set()
    for text in texts:
        vocabulary |= _numbers(text) | {t.lower() for t in _TOKEN.findall(text)} | set(_WORD.findall(text.lower()))
    return vocabulary


# --- scoring ----------------------------------------------------------------------------------------


def score_groundedness(answer: str, contexts: Sequence[str], question: str = "") -> Groundedness:
    """How well `answer` is supported by `contexts` (retrieved documents, prompt context)."""
    documents = [_Document.of(context) for context in contexts if context and context.strip()]
    if not answer or not answer.strip():
        return Groundedness(0.0, UNKNOWN, "the answer is empty", ())
    if not any(d.sentences for d in documents):
        return Groundedness(0.0, UNKNOWN, "no context to check the answer against", ())
    claims = extract_claims(answer)
    if not claims:
        return Groundedness(1.0, GROUNDED, _no_claims_reason(answer), ())
    return _verdict(_score_claims(claims, documents, question))


@dataclass(frozen=True)
class _Document:
    """One context's sentences and the numbers and names it mentions."""

    sentences: tuple[str, ...]
    numbers: frozenset[str]
    vocabulary: frozenset[str]

    @classmethod
    def of(cls, text: str) -> _Document:
        return cls(tuple(split_sentences(text)), frozenset(_numbers(text)), frozenset(_vocabulary([text])))


def _no_claims_reason(answer: str) -> str:
    if any(_REFUSAL.search(s) for s in split_sentences(answer)):
        return "the answer declines rather than asserting anything"
    return "the answer makes no factual claim to check"


def _score_claims(claims: list[str], documents: list[_Document], question: str) -> tuple[ClaimSupport, ...]:
    """Each claim against its best evidence sentence.

    A claim's numbers must appear in the document its best sentence comes from ("60 days" is not
    supported by another article's "60 minutes"); its names anywhere in the context. Words, numbers
    and names echoed from the question are not invented.
    """
    evidence = [(index, sentence) for index, d in enumerate(documents) for sentence in d.sentences]
    similarity = _similarity(claims, [sentence for _, sentence in evidence])
    asked = _vocabulary([question])
    names = asked.union(*(d.vocabulary for d in documents))
    known_stems = set().union(_stems(question), *(_stems(sentence) for _, sentence in evidence))
    results = []
    for row, claim in enumerate(claims):
        document, sentence = evidence[int(np.argmax(similarity[row]))]
        missing = _missing_tokens(claim, documents[document].numbers | asked, names)
        support = _support(float(similarity[row].max()), _coverage(claim, known_stems), missing)
        results.append(ClaimSupport(claim, round(support, 4), sentence))
    return tuple(results)


def _missing_tokens(claim: str, numbers: frozenset[str] | set[str], names: set[str]) -> int:
    missing_numbers = _numbers(claim) - numbers
    return len(missing_numbers) + sum(1 for name in _names(claim) if not _known(name, names))


def _similarity(claims: list[str], evidence: list[str]) -> np.ndarray:
    """Mean cosine of word 1-2-gram and character 3-5-gram TF-IDF: a row per claim, a column per sentence.

    Fitted per answer on its own claims and evidence, so IDF weighs what is rare in this context.
    """
    corpus = [*claims, *evidence]
    scores = [_tfidf(corpus, analyze) for analyze in _ANALYZERS]
    return np.mean([(m[: len(claims)] @ m[len(claims):].T).toarray() for m in scores], axis=0)


def _tfidf(corpus: list[str], analyze: Callable[[str], list[str]]) -> sparse.csr_matrix:
    """TfidfVectorizer(sublinear_tf=True)'s weighting (smooth IDF, l2 rows), computed directly.

    The scikit-learn analyzers make the features; weighing them here instead of calling
    `fit_transform` twice per answer cut a demo answer's scoring from ~10 ms to ~3 ms (input
    validation and vocabulary sorting dominate on a corpus this small), with the same numbers
    (a unit test checks).
    """
    vocabulary: dict[str, int] = {}
    features = [[vocabulary.setdefault(f, len(vocabulary)) for f in analyze(doc)] for doc in corpus]
    rows = np.repeat(np.arange(len(corpus)), [len(f) for f in features])
    columns = np.fromiter((c for f in features for c in f), dtype=np.int64, count=len(rows))
    matrix = sparse.csr_matrix((np.ones(len(rows)), (rows, columns)), shape=(len(corpus), len(vocabulary)))
    matrix.sum_duplicates()
    document_frequency = np.bincount(matrix.indices, minlength=len(vocabulary))
    idf = np.log((1 + len(corpus)) / (1 + document_frequency)) + 1
    matrix.data = (1 + np.log(matrix.data)) * idf[matrix.indices]
    row_of = np.repeat(np.arange(len(corpus)), np.diff(matrix.indptr))
    norms = np.sqrt(np.bincount(row_of, weights=matrix.data**2, minlength=len(corpus)))
    matrix.data /= np.maximum(norms, 1e-12)[row_of]
    return matrix


def _coverage(claim: str, known_stems: set[str]) -> float:
    stems = _stems(claim)
    return len(stems & known_stems) / len(stems) if stems else 1.0


def _support(similarity: float, coverage: float, missing_tokens: int) -> float:
    blended = SIMILARITY_WEIGHT * similarity + (1 - SIMILARITY_WEIGHT) * coverage
    return max(0.0, min(1.0, blended * MISSING_TOKEN_FACTOR**missing_tokens))


def _verdict(claims: tuple[ClaimSupport, ...]) -> Groundedness:
    weakest = min(claims, key=lambda c: c.support)
    if weakest.support >= UNSUPPORTED_BELOW:
        every = "the claim is" if len(claims) == 1 else f"all {len(claims)} claims are"
        return Groundedness(weakest.support, GROUNDED, f"{every} supported by the context", claims)
    unsupported = [c for c in claims if c.support < UNSUPPORTED_BELOW]
    reason = f"unsupported by the context: {_quote(weakest.text)}"
    if len(unsupported) > 1:
        reason += f" (and {len(unsupported) - 1} more claim{'s' if len(unsupported) > 2 else ''})"
    return Groundedness(weakest.support, HALLUCINATED, reason, claims)


def _quote(text: str) -> str:
    return f'"{text if len(text) <= MAX_QUOTE else text[: MAX_QUOTE - 1].rstrip() + "…"}"'
