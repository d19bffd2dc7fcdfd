"""Unit tests of the NLU components and helpdesk.text (no model is trained here)."""

import unicodedata
from pathlib import Path

import pytest
import yaml
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.nlu.constants import TOKENS_NAMES
from rasa.nlu.featurizers.sparse_featurizer.count_vectors_featurizer import CountVectorsFeaturizer
from rasa.shared.importers.importer import TrainingDataImporter
from rasa.shared.nlu.constants import ENTITIES, INTENT, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from helpdesk.nlu_components import (
    FoldingEntitySynonymMapper,
    LanguageDetector,
    VietnameseFoldingTokenizer,
    WordlessFallbackClassifier,
)
from helpdesk.text import (
    ABBREVIATIONS,
    contains_any,
    detect_language,
    fold,
    fold_token,
    folded_words,
)

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def tokenizer():
    return VietnameseFoldingTokenizer(VietnameseFoldingTokenizer.get_default_config())


def tokens_of(tokenizer, text):
    return tokenizer.tokenize(Message({TEXT: text}), TEXT)


def lemmas(tokenizer, text):
    return [t.lemma for t in tokens_of(tokenizer, text)]


# --- tokenizer --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "Mình muốn nâng cấp Không gian làm việc số lên Premium!",
        "ko dc hạ xuống bản Free à?",
        "Upgrade App Builder to Standard for 10 users, 50 GB.",
        "Đổi chu kỳ  sang   hàng năm ntn z???",
    ],
)
def test_tokens_keep_typed_text_and_offsets(tokenizer, text):
    tokens = tokens_of(tokenizer, text)
    assert tokens
    for token in tokens:
        assert text[token.start : token.end] == token.text


def test_lemma_is_folded_word(tokenizer):
    assert lemmas(tokenizer, "Dùng thử ĐĂNG KÝ Gói") == ["dung", "thu", "dang", "ky", "goi"]


def test_with_and_without_diacritics_give_same_lemmas(tokenizer):
    assert lemmas(tokenizer, "Hạ xuống bản Free được không") == lemmas(tokenizer, "ha xuong ban free duoc khong")


def test_trial_and_capacity_stay_different_words(tokenizer):
    # the probe's failure: "dung thu" (trial) read as "dung luong" (capacity)
    assert lemmas(tokenizer, "dung thu")[1] != lemmas(tokenizer, "dung luong")[1]


def test_vietnamese_chat_abbreviations_are_expanded(tokenizer):
    assert lemmas(tokenizer, "ko dc thì làm ntn z") == ["khong", "duoc", "thi", "lam", "nhu the nao", "vay"]


def test_english_words_are_not_read_as_vietnamese_shorthand(tokenizer):
    # "a" would be "anh" and "m" "minh" in Vietnamese chat
    assert lemmas(tokenizer, "I want a plan for App Builder") == ["i", "want", "a", "plan", "for", "app", "builder"]
    assert lemmas(tokenizer, "thx, can u help") == ["thanks", "can", "you", "help"]


def test_decomposed_unicode_folds_like_composed(tokenizer):
    composed = "Dùng thử được không"
    decomposed = unicodedata.normalize("NFD", composed)
    assert decomposed != composed
    assert lemmas(tokenizer, decomposed) == lemmas(tokenizer, composed)
    for token in tokens_of(tokenizer, decomposed):
        assert decomposed[token.start : token.end] == token.text


def test_emoji_only_message_does_not_crash(tokenizer):
    tokens = tokens_of(tokenizer, "👍👍")
    assert len(tokens) == 1


def test_process_sets_text_tokens(tokenizer):
    message = Message({TEXT: "nâng cấp lên Premium"})
    tokenizer.process([message])
    assert [t.lemma for t in message.get("text_tokens")] == ["nang", "cap", "len", "premium"]


def test_text_less_messages_add_no_intent_tokens(tokenizer):
    # `rasa train` adds a text-less message per intent of the stories and rules (nlu_fallback
    # among them); only the NLU examples may shape the intent vocabulary DIET's labels use.
    example = Message({TEXT: "hạ gói giúp tôi", INTENT: "request_downgrade"})
    from_rule = Message({INTENT: "nlu_fallback"})
    tokenizer.process_training_data(TrainingData([example, from_rule]))
    assert [t.text for t in example.get(TOKENS_NAMES[INTENT])] == ["request_downgrade"]
    assert from_rule.get(TOKENS_NAMES[INTENT]) is None


def test_full_training_gives_diet_the_features_of_nlu_only_training(tmp_path):
    """`rasa train` (stories and rules too) and `rasa train nlu` featurize the NLU examples alike.

    The rule "answer nlu_fallback" once gave the shipped model an intent vocabulary of 28 where
    `rasa train nlu` had 27: DIET started from other random weights and scored 0.944 held-out
    macro F1 instead of 0.957 on the same data.
    """
    importers = {
        "full": TrainingDataImporter.load_from_config(
            str(ROOT / "config.yml"), str(ROOT / "domain.yml"), [str(ROOT / "data")]
        ),
        "nlu": TrainingDataImporter.load_nlu_importer_from_config(
            str(ROOT / "config.yml"), str(ROOT / "domain.yml"), [str(ROOT / "data")]
        ),
    }
    storage = LocalModelStorage(tmp_path)
    context = ExecutionContext(GraphSchema({}), "test")
    tokenizer = VietnameseFoldingTokenizer(VietnameseFoldingTokenizer.get_default_config())
    vocabularies, features = {}, {}
    for kind, importer in importers.items():
        data = importer.get_nlu_data("vi")
        tokenizer.process_training_data(data)
        config = {**CountVectorsFeaturizer.get_default_config(), "use_lemma": True}
        featurizer = CountVectorsFeaturizer.create(config, storage, Resource(f"cvf_{kind}"), context)
        featurizer.train(data)
        featurizer.process_training_data(data)
        vocabularies[kind] = featurizer.vectorizers[INTENT].vocabulary_
        example = data.intent_examples[0]
        features[kind] = [f.features.shape for f in example.features if f.attribute == INTENT]
    assert len(importers["full"].get_nlu_data("vi").training_examples) > len(
        importers["nlu"].get_nlu_data("vi").training_examples
    )
    assert vocabularies["full"] == vocabularies["nlu"]
    assert "nlu_fallback" not in vocabularies["full"]
    assert features["full"] == features["nlu"]


# --- language detector ------------------------------------------------------------------


def language_entities(message):
    return [e for e in message.get(ENTITIES, []) if e["entity"] == "language"]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Tôi muốn hạ gói", "vi"),
        ("toi muon ha goi xuong free duoc khong", "vi"),
        ("ko dc a", "vi"),
        ("How do I downgrade my plan?", "en"),
        ("Can I pay App Builder yearly", "en"),
        ("ok", "vi"),
        ("10", "vi"),
    ],
)
def test_language_entity_added_to_every_message(text, expected):
    message = Message({TEXT: text})
    LanguageDetector(LanguageDetector.get_default_config()).process([message])
    found = language_entities(message)
    assert found == [{"entity": "language", "value": expected, "start": 0, "end": 0, "extractor": "LanguageDetector"}]


def test_language_default_is_configurable_for_undecided_text():
    message = Message({TEXT: "ok 👍"})
    LanguageDetector({"default_language": "en"}).process([message])
    assert language_entities(message)[0]["value"] == "en"


@pytest.mark.parametrize("text", ["ok", "Premium", "10", "👍"])
def test_language_detector_can_stay_silent_on_undecided_text(text):
    message = Message({TEXT: text})
    LanguageDetector({"default_language": "vi", "emit_when_undecided": False}).process([message])
    assert language_entities(message) == []


@pytest.mark.parametrize("text, expected", [("Premium please", "en"), ("gói Premium", "vi")])
def test_language_detector_silent_mode_still_tags_decided_text(text, expected):
    message = Message({TEXT: text})
    LanguageDetector({"default_language": "vi", "emit_when_undecided": False}).process([message])
    assert [e["value"] for e in language_entities(message)] == [expected]


def test_configured_pipeline_keeps_conversation_language_on_bare_values():
    config = yaml.safe_load((ROOT / "config.yml").read_text(encoding="utf-8"))
    detector = next(c for c in config["pipeline"] if c["name"].endswith("LanguageDetector"))
    assert detector["emit_when_undecided"] is False


def test_language_detector_keeps_other_entities_and_never_duplicates():
    product = {"entity": "product", "value": "app_builder", "start": 10, "end": 21}
    message = Message({TEXT: "nâng cấp App Builder", ENTITIES: [product]})
    detector = LanguageDetector(LanguageDetector.get_default_config())
    detector.process([message])
    detector.process([message])
    assert message.get(ENTITIES)[0] == product
    assert len(language_entities(message)) == 1


def test_language_detector_leaves_training_data_alone():
    example = Message({TEXT: "Tôi muốn hạ gói", "intent": "ask_downgrade_howto"})
    data = TrainingData([example])
    LanguageDetector(LanguageDetector.get_default_config()).process_training_data(data)
    assert not example.get(ENTITIES)


# --- helpdesk.text ----------------------------------------------------------------------


def test_fold():
    assert fold("  Đăng KÝ   Thanh toán ") == "dang ky thanh toan"
    assert fold("") == "" and fold(None) == ""


def test_fold_token_language_aware():
    assert fold_token("ko") == "khong"
    assert fold_token("a") == "anh"
    assert fold_token("a", "en") == "a"
    assert fold_token("pls", "en") == "please"
    assert fold_token("Gói") == "goi"


def test_abbreviation_table_is_folded():
    for key, value in ABBREVIATIONS.items():
        assert fold(value) == value, key


def test_folded_words_expand_and_drop_punctuation():
    assert folded_words("Gói ntn, ko dc?!") == ["goi", "nhu", "the", "nao", "khong", "duoc"]


def test_detect_language_keeps_default_on_ties():
    assert detect_language("ok", default="en") == "en"
    assert detect_language("Premium", default="vi") == "vi"
    assert detect_language("Xin chào", default="en") == "vi"


def test_contains_any_matches_whole_words_only():
    words = folded_words("Tôi muốn dùng thử App Builder")
    assert contains_any(words, ["dung thu"])
    assert not contains_any(words, ["dung luong"])
    assert not contains_any(folded_words("dùng thửa"), ["dung thu"])


# --- config -----------------------------------------------------------------------------


def test_config_uses_folding_components_and_fixed_seeds():
    config = yaml.safe_load((ROOT / "config.yml").read_text(encoding="utf-8"))
    names = [c["name"] for c in config["pipeline"]]
    assert names[0] == "helpdesk.nlu_components.VietnameseFoldingTokenizer"
    assert "helpdesk.nlu_components.LanguageDetector" in names
    assert "helpdesk.nlu_components.FoldingEntitySynonymMapper" in names
    assert "helpdesk.nlu_components.WordlessFallbackClassifier" in names
    for item in config["pipeline"]:
        if item["name"] == "CountVectorsFeaturizer":
            assert item.get("use_lemma", True) is True
    for item in config["pipeline"] + config["policies"]:
        if item["name"] in ("DIETClassifier", "TEDPolicy"):
            assert isinstance(item.get("random_seed"), int), item["name"]
    assert config.get("assistant_id")


# --- folding synonym mapper --------------------------------------------------------------


def make_mapper(synonyms):
    return FoldingEntitySynonymMapper(FoldingEntitySynonymMapper.get_default_config(), None, None, synonyms)


def test_folding_mapper_maps_unlisted_spellings_to_canonical_key():
    mapper = make_mapper({"không gian làm việc số": "digital_workspace", "hàng năm": "yearly"})
    entities = [
        {"entity": "product", "value": "KHONG GIAN LAM VIEC SO", "start": 0, "end": 22},
        {"entity": "product", "value": unicodedata.normalize("NFD", "Không gian làm việc số"), "start": 0, "end": 22},
        {"entity": "cycle", "value": "hang nam", "start": 0, "end": 8},
    ]
    mapper.replace_synonyms(entities)
    assert [e["value"] for e in entities] == ["digital_workspace", "digital_workspace", "yearly"]
    assert all(e["processors"] == ["FoldingEntitySynonymMapper"] for e in entities)


def test_folding_mapper_keeps_numbers_and_drops_unknown_closed_values():
    mapper = make_mapper({"premium": "premium", "cao cấp": "premium"})
    entities = [
        {"entity": "seats", "value": "10", "start": 0, "end": 2},
        {"entity": "tier", "value": "Enterprise", "start": 3, "end": 13},
        {"entity": "tier", "value": "Cao Cap", "start": 14, "end": 21},
        {"entity": "product", "value": "việc", "start": 22, "end": 26},
    ]
    mapper.replace_synonyms(entities)
    assert [(e["entity"], e["value"]) for e in entities] == [("seats", "10"), ("tier", "premium")]
    assert "processors" not in entities[0]


def test_folding_mapper_trims_a_span_that_is_too_wide():
    text = "để tự động gia hạn nhé"
    mapper = make_mapper({"tự động": "auto", "gia hạn tự động": "auto"})
    entities = [{"entity": "renewal_mode", "value": "để tự động", "start": 0, "end": 10}]
    mapper.replace_synonyms(entities)
    assert entities[0]["value"] == "auto"
    assert text[entities[0]["start"] : entities[0]["end"]] == "tự động"


def test_folding_mapper_accepts_canonical_keys_typed_with_spaces():
    mapper = make_mapper({})
    entities = [{"entity": "capacity_kind", "value": "Data Records", "start": 0, "end": 12}]
    mapper.replace_synonyms(entities)
    assert entities[0]["value"] == "data_records"


def test_folding_mapper_drops_non_numbers_tagged_as_numbers():
    mapper = make_mapper({})
    entities = [
        {"entity": "seats", "value": "alert(1)", "start": 8, "end": 16},
        {"entity": "seats", "value": "12", "start": 0, "end": 2},
        {"entity": "capacity_amount", "value": "1.000", "start": 3, "end": 8},
        {"entity": "capacity_amount", "value": "nhiều", "start": 9, "end": 14},
    ]
    mapper.replace_synonyms(entities)
    assert [e["value"] for e in entities] == ["12", "1.000"]


# --- fallback on texts without words ------------------------------------------------------


def classified(text, intent="affirm", confidence=0.98):
    message = Message({TEXT: text})
    message.set("intent", {"name": intent, "confidence": confidence})
    message.set("intent_ranking", [{"name": intent, "confidence": confidence}])
    return message


@pytest.mark.parametrize("text", ["", "   ", "😀", "👍👍", "?!...", "<>"])
def test_wordless_text_falls_back(text):
    classifier = WordlessFallbackClassifier(WordlessFallbackClassifier.get_default_config())
    message = classified(text)
    classifier.process([message])
    assert message.get("intent")["name"] == "nlu_fallback"
    assert message.get("intent_ranking")[1]["name"] == "affirm"


@pytest.mark.parametrize("text", ["ok", "có", "10", "yes 👍"])
def test_text_with_words_keeps_a_confident_intent(text):
    classifier = WordlessFallbackClassifier(WordlessFallbackClassifier.get_default_config())
    message = classified(text)
    classifier.process([message])
    assert message.get("intent")["name"] == "affirm"


def test_low_confidence_still_falls_back():
    classifier = WordlessFallbackClassifier({**WordlessFallbackClassifier.get_default_config(), "threshold": 0.6})
    message = classified("hmm gì vậy", confidence=0.4)
    classifier.process([message])
    assert message.get("intent")["name"] == "nlu_fallback"


def test_closed_entity_values_come_from_the_catalog(tmp_path, monkeypatch):
    """A tier added to catalog.yaml (with its NLU synonyms) is kept by the mapper with no code change:
    the mapper used to drop any tier value it did not have in a hard-coded list."""
    from billing_core import load_catalog
    from helpdesk import nlu_components
    from tests.actions.test_catalog_spellings import _catalog_with_enterprise

    extended = load_catalog(_catalog_with_enterprise(tmp_path), use_cache=False)
    monkeypatch.setattr(nlu_components, "load_catalog", lambda: extended)
    assert "enterprise" in nlu_components.catalog_keys()["tier"]
    mapper = make_mapper({"goi doanh nghiep": "enterprise"})
    assert mapper._tables()["tier"]["goi doanh nghiep"] == "enterprise"
    assert mapper._tables()["product"]["digital workspace"] == "digital_workspace"
