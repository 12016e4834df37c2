"""Reporting-line helpers: any depth, one query, not one per level."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from mentoring.models import reporting_chains, reporting_subtree
from tests.factories import EmployeeFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def chain():
    """A straight line eight deep: people[0] is the top."""
    people = [EmployeeFactory()]
    for _ in range(7):
        people.append(EmployeeFactory(manager=people[-1]))
    return people


def test_manager_chain_at_depth_in_one_query(chain):
    bottom = chain[-1]
    with CaptureQueriesContext(connection) as queries:
        ids = bottom.manager_chain_ids()
    assert ids == [p.pk for p in reversed(chain[:-1])]
    assert len(queries) == 1


def test_in_reporting_line_both_directions_at_any_depth(chain):
    sibling = EmployeeFactory(manager=chain[2])
    assert chain[7].in_reporting_line_of(chain[0])
    assert chain[0].in_reporting_line_of(chain[7])
    assert chain[7].in_reporting_line_of(chain[2])
    assert not chain[7].in_reporting_line_of(sibling)  # cousin: different branch
    assert sibling.in_reporting_line_of(chain[0])


def test_subtree_lists_everyone_below_at_any_depth(chain):
    side = EmployeeFactory(manager=chain[3])
    assert chain[3].subtree_ids() == {p.pk for p in chain[4:]} | {side.pk}
    assert chain[7].subtree_ids() == set()


def test_chains_for_many_people_in_one_query(chain):
    other_top = EmployeeFactory()
    other = EmployeeFactory(manager=other_top)
    with CaptureQueriesContext(connection) as queries:
        chains = reporting_chains([chain[7].pk, chain[0].pk, other.pk])
    assert len(queries) == 1
    assert chains[chain[0].pk] == []
    assert chains[other.pk] == [other_top.pk]
    assert len(chains[chain[7].pk]) == 7


def test_subtree_query_count_is_constant(chain):
    with CaptureQueriesContext(connection) as queries:
        reporting_subtree(chain[0].pk)
    assert len(queries) == 1
