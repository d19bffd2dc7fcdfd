"""Rasa NLU components for Vietnamese typed with or without diacritics.

``VietnameseFoldingTokenizer`` keeps every token's typed text and offsets (entity spans must
stay right) and puts the folded form (helpdesk.text.fold_token: NFC, lower case, no marks,
đ -> d, chat abbreviations expanded) in ``token.lemma``. CountVectorsFeaturizer with
``use_lemma: true`` then sees "dùng thử", "dung thu" and "dung thử" as the same words.

``FoldingEntitySynonymMapper`` is Rasa's EntitySynonymMapper that also compares folded values,
so "KHÔNG GIAN LÀM VIỆC SỐ", "khong gian lam viec so" or a decomposed-Unicode spelling all map
to ``digital_workspace`` even when only one spelling is listed in a ``synonym:`` block.

``WordlessFallbackClassifier`` is the FallbackClassifier that also sends texts without any word
(empty, emoji only, punctuation only) to ``nlu_fallback``.

``LanguageDetector`` adds the entity ``language`` (``vi`` or ``en``) to each parsed message,
so that the ``language`` slot can map from it.
"""

from __future__ import annotations

import re
from typing import Any, Dict, List, Optional, Text

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.fallback_classifier import FallbackClassifier
from rasa.nlu.constants import TOKENS_NAMES
from rasa.nlu.extractors.entity_synonyms import EntitySynonymMapper
from rasa.nlu.tokenizers.tokenizer import Token
from rasa.nlu.tokenizers.whitespace_tokenizer import WhitespaceTokenizer
from rasa.shared.nlu.constants import (
    ENTITIES,
    ENTITY_ATTRIBUTE_END,
    ENTITY_ATTRIBUTE_START,
    ENTITY_ATTRIBUTE_TYPE,
    ENTITY_ATTRIBUTE_VALUE,
    EXTRACTOR,
    INTENT,
    TEXT,
)
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from billing_core import Cycle, RenewalMode, load_catalog
from helpdesk import rasa_speedups
from helpdesk.text import detect_language, fold, fold_token

# Every Rasa server loads these components with the model: the place to fix Rasa's hot path.
rasa_speedups.install()

LANGUAGE_ENTITY = "language"
_WORD = re.compile(r"\w+", re.UNICODE)
_NUMBER = re.compile(r"\d{1,3}(?:[.,]\d{3})+|\d+")


def catalog_keys() -> Dict[Text, List[Text]]:
    """The canonical value of each closed entity type: the keys of docs/design.md, from the catalog."""
    catalog = load_catalog()
    return {
        "product": list(catalog.products),
        "tier": list(catalog.tiers),
        "cycle": [cycle.value for cycle in Cycle],
        "capacity_kind": list(catalog.capacity),
        "renewal_mode": [mode.value for mode in RenewalMode],
    }


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_TOKENIZER, is_trainable=False)
class VietnameseFoldingTokenizer(WhitespaceTokenizer):
    """Whitespace tokens whose lemma is the folded, abbreviation-expanded word."""

    @staticmethod
    def not_supported_languages() -> Optional[List[Text]]:
        return ["zh", "ja", "th"]

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "VietnameseFoldingTokenizer":
        return cls(config)

    def tokenize(self, message: Message, attribute: Text) -> List[Token]:
        tokens = super().tokenize(message, attribute)
        # English words such as "a" or "v" must not be read as Vietnamese shorthand, so
        # the abbreviation table depends on the language of the whole text.
        language = detect_language(message.get(attribute) or "")
        for token in tokens:
            token.lemma = fold_token(token.text, language) or token.text
        return tokens

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        """Tokenizes the training data; intents count only on the examples that have a text.

        ``rasa train`` (unlike ``rasa train nlu``) adds one text-less message per intent and
        action of the stories and rules, among them ``nlu_fallback`` (rule "answer
        nlu_fallback"), which no NLU example has. CountVectorsFeaturizer would put that intent
        in its intent vocabulary, DIET's label features would get one dimension more and its
        weights another random start: the shipped model scored 0.944 held-out macro F1 where
        the NLU-only one scored 0.957 from the same data. Without intent tokens on those
        messages both trainings see the same features and give the same classifier.
        """
        super().process_training_data(training_data)
        for example in training_data.training_examples:
            if not example.get(TEXT):
                example.data.pop(TOKENS_NAMES[INTENT], None)
        return training_data


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=True)
class FoldingEntitySynonymMapper(EntitySynonymMapper):
    """EntitySynonymMapper that also matches folded values, for closed entity types.

    For an entity type listed in ``canonical_values`` (the keys of docs/design.md) the value
    ends up as one of those keys or the entity is dropped: DIET sometimes tags a stray word
    ("việc", "cty") or a span one word too wide ("để tự động"); the widest run of words inside
    the span that maps to a key is kept, with its offsets. Other entity types (numbers) are
    left as they are.
    """

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {
            # None: the keys of the catalog (products, tiers, capacity kinds) and of the billing
            # model (cycles, renewal modes), read when the model is loaded, so that a product or
            # tier added to catalog.yaml (with its NLU synonyms) needs no change here
            "canonical_values": None,
            # entity types whose value must be a number ("10", "1.000", "50"); anything else
            # DIET tagged there ("alert(1)") is dropped
            "numeric_entities": ["seats", "capacity_amount"],
        }

    def _tables(self) -> Dict[Text, Dict[Text, Text]]:
        """Per closed entity type: folded spelling -> canonical key (built lazily, because
        the synonyms are trained or loaded after __init__)."""
        if getattr(self, "_tables_source", None) is not self.synonyms:
            canonical = self._config.get("canonical_values")
            if canonical is None:
                canonical = catalog_keys()
            tables: Dict[Text, Dict[Text, Text]] = {}
            for entity_type, keys in canonical.items():
                table = {fold(key): key for key in keys}
                table.update({fold(key.replace("_", " ")): key for key in keys})
                for spelling, value in self.synonyms.items():
                    if value in keys:
                        table.setdefault(fold(spelling), value)
                tables[entity_type] = table
            self._tables_cache = tables
            self._tables_source = self.synonyms
        return self._tables_cache

    def replace_synonyms(self, entities: List[Dict[Text, Any]]) -> None:
        super().replace_synonyms(entities)
        tables = self._tables()
        numeric = self._config.get("numeric_entities")
        if numeric is None:
            numeric = self.get_default_config()["numeric_entities"]
        kept = []
        for entity in entities:
            entity_type = entity.get(ENTITY_ATTRIBUTE_TYPE)
            if entity_type in numeric:
                if _NUMBER.fullmatch(str(entity.get(ENTITY_ATTRIBUTE_VALUE, "")).strip()):
                    kept.append(entity)
                continue
            table = tables.get(entity_type) if entity_type is not None else None
            if table is None:
                kept.append(entity)
                continue
            value = str(entity.get(ENTITY_ATTRIBUTE_VALUE, ""))
            if value in table.values():
                kept.append(entity)
                continue
            if self._canonicalise(entity, table):
                self.add_processor_name(entity)
                kept.append(entity)
        entities[:] = kept

    @staticmethod
    def _canonicalise(entity: Dict[Text, Any], table: Dict[Text, Text]) -> bool:
        """Map the entity (or the widest run of its words) to a key; False if nothing maps."""
        # an unmapped value is still the typed span text[start:end], so offsets follow from it
        text = str(entity.get(ENTITY_ATTRIBUTE_VALUE, ""))
        mapped = table.get(fold(text))
        if mapped is not None:
            entity[ENTITY_ATTRIBUTE_VALUE] = mapped
            return True
        words = [(m.start(), m.end()) for m in _WORD.finditer(text)]
        for width in range(len(words) - 1, 0, -1):
            for first in range(0, len(words) - width + 1):
                start, end = words[first][0], words[first + width - 1][1]
                mapped = table.get(fold(text[start:end]))
                if mapped is not None:
                    begin = entity.get(ENTITY_ATTRIBUTE_START)
                    if isinstance(begin, int):
                        entity[ENTITY_ATTRIBUTE_START] = begin + start
                        entity[ENTITY_ATTRIBUTE_END] = begin + end
                    entity[ENTITY_ATTRIBUTE_VALUE] = mapped
                    return True
        return False


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=False)
class LanguageDetector(GraphComponent):
    """Adds ``{"entity": "language", "value": "vi"|"en"}`` to every parsed message (with
    ``emit_when_undecided: false``: to every message that has a telling word or diacritics).

    The entity spans no characters (start = end = 0) so it never overlaps a real entity and
    never labels a token in ``rasa test nlu``. It is added at parse time only: training
    examples are left alone, so no trainable extractor learns a "language" label.
    """

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {
            # language of texts with no telling word ("ok", "10", "Premium", emoji)
            "default_language": "vi",
            # False: add no entity to such texts, so a slot mapped from it keeps the
            # conversation's language (an English user answering "Premium" stays English)
            "emit_when_undecided": True,
        }

    def __init__(self, config: Dict[Text, Any]) -> None:
        self._default_language = config.get("default_language", "vi")
        self._emit_when_undecided = config.get("emit_when_undecided", True)

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "LanguageDetector":
        return cls(config)

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            text = message.get(TEXT) or ""
            language = detect_language(text, default=self._default_language)
            entities = [
                entity for entity in message.get(ENTITIES, []) if entity.get(ENTITY_ATTRIBUTE_TYPE) != LANGUAGE_ENTITY
            ]
            undecided = detect_language(text, default="") == ""
            if undecided and not self._emit_when_undecided:
                message.set(ENTITIES, entities, add_to_output=True)
                continue
            entities.append(
                {
                    ENTITY_ATTRIBUTE_TYPE: LANGUAGE_ENTITY,
                    ENTITY_ATTRIBUTE_VALUE: language,
                    ENTITY_ATTRIBUTE_START: 0,
                    ENTITY_ATTRIBUTE_END: 0,
                    EXTRACTOR: self.__class__.__name__,
                }
            )
            message.set(ENTITIES, entities, add_to_output=True)
        return messages


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=False)
class WordlessFallbackClassifier(FallbackClassifier):
    """FallbackClassifier that also falls back when the text has no word at all.

    An empty message, emoji only or punctuation only gives the featurizers nothing, and DIET
    then answers its bias class with high confidence (it said "affirm", 0.98, for "" and 😀):
    such a message must not answer a yes/no question.
    """

    def _should_fallback(self, message: Message) -> bool:
        if not _WORD.search(message.get(TEXT) or ""):
            return True
        return super()._should_fallback(message)
