"""Product and tier spellings come from billing_core/catalog.yaml and the NLU synonyms (issue 11):
every catalog product and tier has a synonym block, and a new tier needs catalog.yaml plus its
synonyms, nothing else."""

from __future__ import annotations

from pathlib import Path

import yaml

import billing_core as bc
from actions import parsing

ROOT = Path(__file__).resolve().parents[2]
CATALOG = ROOT / "billing_core" / "catalog.yaml"


def test_every_catalog_product_and_tier_has_an_nlu_synonym():
    assert parsing.missing_synonyms(bc.load_catalog(), parsing.nlu_synonyms()) == []


def test_the_parser_knows_exactly_the_catalogs_keys():
    catalog = bc.load_catalog()
    assert set(parsing.spellings().products) == set(catalog.products)
    assert set(parsing.spellings().tiers) == set(catalog.tiers)
    for key, product in catalog.products.items():  # the names in both languages are spellings too
        assert parsing.canonical_product(product.name.get("vi")) == key
        assert parsing.canonical_product(product.name.get("en")) == key


def _catalog_with_enterprise(tmp_path: Path) -> Path:
    data = yaml.safe_load(CATALOG.read_text(encoding="utf-8"))
    data["tiers"]["enterprise"] = {"rank": 4, "paid": True, "name": {"vi": "Doanh nghiệp", "en": "Enterprise"}}
    premium = data["products"]["digital_workspace"]["tiers"]["premium"]
    data["products"]["digital_workspace"]["tiers"]["enterprise"] = dict(
        premium, price={"monthly": 250000, "yearly": 2500000}
    )
    path = tmp_path / "catalog.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def _nlu_with(tmp_path: Path, extra_block: str) -> Path:
    text = (ROOT / "data" / "nlu.yml").read_text(encoding="utf-8").rstrip("\n") + "\n\n" + extra_block
    path = tmp_path / "nlu.yml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_new_tier_needs_the_catalog_and_its_synonyms_only(tmp_path, monkeypatch):
    catalog = bc.load_catalog(_catalog_with_enterprise(tmp_path), use_cache=False)
    # Catalog only: the check names what is missing.
    assert parsing.missing_synonyms(catalog, parsing.nlu_synonyms()) == ["tier enterprise"]
    # Catalog + synonyms: nothing missing, and the parser reads every spelling.
    nlu = _nlu_with(tmp_path, "- synonym: enterprise\n  examples: |\n    - goi doanh nghiep\n    - ent\n")
    synonyms = parsing.nlu_synonyms(nlu)
    assert parsing.missing_synonyms(catalog, synonyms) == []
    monkeypatch.setattr(parsing, "spellings", lambda: parsing.Spellings.from_sources(catalog, synonyms))
    assert parsing.canonical_tier("Enterprise") == "enterprise"
    assert parsing.canonical_tier("Doanh nghiệp") == "enterprise"
    assert parsing.parse_change("nâng Không gian làm việc số lên gói doanh nghiệp cho 10 người").tier == "enterprise"
    assert parsing.parse_change("upgrade to ent yearly").tier == "enterprise"
