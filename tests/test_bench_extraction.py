"""The scoring functions of the extraction bench, on hand-computed cases."""

from __future__ import annotations

import pytest

from tests.scoring import author_names, found, shingle_scores, word_scores


def test_word_scores_count_lowercased_words_as_bags() -> None:
    # gold words: the x2, cat, sat, on, mat (6); predicted: the x3, cat, sat, home (6).
    # overlap: the 2 + cat 1 + sat 1 = 4, so P = 4/6, R = 4/6.
    p, r, f1 = word_scores("The cat sat on the mat.", "the CAT sat, the the home")
    assert p == pytest.approx(4 / 6)
    assert r == pytest.approx(4 / 6)
    assert f1 == pytest.approx(4 / 6)


def test_word_scores_uneven_precision_and_recall() -> None:
    # gold: alpha beta gamma delta (4); predicted: alpha beta (2); overlap 2.
    p, r, f1 = word_scores("alpha beta gamma delta", "Alpha—beta")
    assert (p, r) == (1.0, 0.5)
    assert f1 == pytest.approx(2 * 1.0 * 0.5 / 1.5)


def test_word_scores_empty_sides() -> None:
    assert word_scores("", "") == (1.0, 1.0, 1.0)
    assert word_scores("some gold text", "") == (0.0, 0.0, 0.0)
    assert word_scores("", "leaked menu") == (0.0, 0.0, 0.0)


def test_shingle_scores_per_page() -> None:
    # gold "a b c d e": shingles abcd, bcde; predicted "a b c d x": abcd, bcdx.
    # tp 1, fp 1, fn 1 (shares 1/3 each): P = R = F1 = 1/2.
    p, r, f1 = shingle_scores("a b c d e", "a b c d x")
    assert (p, r, f1) == pytest.approx((0.5, 0.5, 0.5))


def test_found_is_case_and_space_insensitive_and_skips_empty() -> None:
    text = "Intro.\nThe Quick   brown fox jumps.\nEnd"
    assert found(text, ["the quick brown fox", "lazy dog", ""]) == ["the quick brown fox"]


def test_author_names_split_on_separators() -> None:
    assert author_names("Ann Lee, Bo Chan and Cy Dee & Di Ng; Ed Fox") == {
        "ann lee",
        "bo chan",
        "cy dee",
        "di ng",
        "ed fox",
    }
    assert author_names(["Ann  Lee", "BO CHAN"]) == {"ann lee", "bo chan"}
    assert author_names("Alexandra Sand") == {"alexandra sand"}
    assert author_names(None) == set()


def test_found_folded_matches_typographic_quotes_and_dashes() -> None:
    text = "They\u2019re largely positive\u2014and \u201cgood\u201d for you."
    snippet = 'they\'re largely positive-and "good" for you.'
    assert found(text, [snippet]) == []
    assert found(text, [snippet], folded=True) == [snippet]


def test_author_right_allows_credentials_but_not_extra_people() -> None:
    from tests.scoring import author_right

    assert author_right("Genevieve Carlton, Ph.D.", ["Genevieve Carlton"])
    assert author_right("Dr. Andrew Huberman", ["Andrew Huberman"])
    assert author_right("Justin C. Meserole", ["Justin C Meserole"])
    assert author_right("Manoj Jain and Jagpreet Chhatwal", ["Manoj Jain", "Jagpreet Chhatwal"])
    assert not author_right("Scott Levine", ["Scott Levine", "Frank Bass"])
    assert not author_right("Melanie Hanson", ["Cite this Webpage"])
    assert not author_right("Melanie Hanson", [])
    assert not author_right("Aniruddha Roy", ["Roy"])  # the first gold name, not a part of it


def test_same_title_decodes_entities_and_folds_quotes() -> None:
    from tests.scoring import same_title

    assert same_title("FDA's Concerns", "FDA’s Concerns")
    assert same_title("M&A Roundup", "M&amp;A Roundup")
    assert not same_title("8 Recent Trends", "Recent Trends")


def test_folded_snippets_ignore_list_markers() -> None:
    from tests.scoring import found

    text = "Apps we like:\nHeadspace\nCalm"
    assert found(text, ["- Headspace\n- Calm"], folded=True) == ["- Headspace\n- Calm"]
    assert found(text, ["- Headspace\n- Insight Timer"], folded=True) == []


def test_found_folded_ignores_spaces_inside_punctuation_and_entities() -> None:
    text = "In our guide to camera types, we're going back to basics (Philodendron hederaceum)."
    assert found(text, ["camera types , we're going"], folded=True) == [
        "camera types , we're going"
    ]
    assert found(text, ["( Philodendron hederaceum )"], folded=True) == [
        "( Philodendron hederaceum )"
    ]
    assert found(text, ["we&#39;re going back"], folded=True) == ["we&#39;re going back"]
    assert found(text, ["camera types, we are going"], folded=True) == []
