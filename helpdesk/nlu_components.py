"""Rasa NLU components for Vietnamese typed with or without diacritics.

``VietnameseFoldingTokenizer`` keeps every token's typed text and offsets (entity spans must
stay right) and puts the folded form (helpdesk.text.fold_token: NFC, lower case, no marks,
đ -> d, chat abbreviations expanded) in ``token.lemma``. CountVectorsFeaturizer with
``use_lemma: true`` then sees "dùng thử", "dung thu" and "dung thử" as the same words.

``FoldingEntitySynonymMapper`` is Rasa's EntitySynonymMapper that also compares folded values,
so "KHÔNG GIAN LÀM VIỆC SỐ", "khong gian lam viec so" or a decomposed-Unicode spelling all map
to ``digital_workspace`` even when only one spelling is listed in a ``synonym:`` block.

``LanguageDetector`` adds the entity ``language`` (``vi`` or ``en``) to each parsed message,
so that the ``language`` slot can map from it.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Text

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
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
    TEXT,
)
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from helpdesk.text import detect_language, fold, fold_token

LANGUAGE_ENTITY = "language"


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.MESSAGE_TOKENIZER, is_trainable=False
)
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


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=True
)
class FoldingEntitySynonymMapper(EntitySynonymMapper):
    """EntitySynonymMapper that falls back to the folded value when the exact one is unknown."""

    def _folded_synonyms(self) -> Dict[Text, Text]:
        # built lazily: the synonyms are loaded (or trained) after __init__
        if getattr(self, "_folded_cache_source", None) is not self.synonyms:
            table: Dict[Text, Text] = {}
            canonical_values = set(self.synonyms.values())
            for key in canonical_values:
                table.setdefault(fold(key), key)
            for key, value in self.synonyms.items():
                table.setdefault(fold(key), value)
            self._folded_cache = table
            self._folded_cache_source = self.synonyms
        return self._folded_cache

    def replace_synonyms(self, entities: List[Dict[Text, Any]]) -> None:
        super().replace_synonyms(entities)
        canonical_values = set(self.synonyms.values())
        folded = self._folded_synonyms()
        for entity in entities:
            value = str(entity.get(ENTITY_ATTRIBUTE_VALUE, ""))
            if value in canonical_values:
                continue
            mapped = folded.get(fold(value))
            if mapped is not None and mapped != value:
                entity[ENTITY_ATTRIBUTE_VALUE] = mapped
                self.add_processor_name(entity)


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=False
)
class LanguageDetector(GraphComponent):
    """Adds ``{"entity": "language", "value": "vi"|"en"}`` to every parsed message.

    The entity spans no characters (start = end = 0) so it never overlaps a real entity and
    never labels a token in ``rasa test nlu``. It is added at parse time only: training
    examples are left alone, so no trainable extractor learns a "language" label.
    """

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {
            # language of texts with no telling word ("ok", "10", emoji)
            "default_language": "vi",
        }

    def __init__(self, config: Dict[Text, Any]) -> None:
        self._default_language = config.get("default_language", "vi")

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
            language = detect_language(
                message.get(TEXT) or "", default=self._default_language
            )
            entities = [
                entity
                for entity in message.get(ENTITIES, [])
                if entity.get(ENTITY_ATTRIBUTE_TYPE) != LANGUAGE_ENTITY
            ]
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
