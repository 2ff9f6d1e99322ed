"""The browser test site's ad containers are ones that the real EasyList hides."""

from __future__ import annotations

import pytest

from filters.lists.syntax import read_list
from tests.e2e.site import SITE_LIST

pytestmark = pytest.mark.corpus


def test_site_list_hides_containers_with_easylist_selectors(corpus):
    easylist = {text for _, text in read_list(corpus / "lists" / "easylist.txt").cosmetic}
    site_rules = [text for _, text in read_list(SITE_LIST).cosmetic]
    assert site_rules, "the site list has no element-hiding rules"
    missing = [rule for rule in site_rules if rule not in easylist]
    assert missing == [], f"not in EasyList: {missing}"

