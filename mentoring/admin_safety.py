from django.contrib import admin
from django.db.models.constants import LOOKUP_SEP


class StrictLookupAdmin(admin.ModelAdmin):
    """Only the declared list filters may be used as URL lookups in the admin.

    Django otherwise accepts any field of the model as a changelist filter
    (?not_with=12, ?token__startswith=a), which would let staff query fields the admin
    deliberately hides: who asked not to be paired with whom, feed tokens, email bodies.
    """

    def lookup_allowed(self, lookup, value, request=None):
        declared = {f if isinstance(f, str) else f[0] for f in self.list_filter if isinstance(f, (str, tuple, list))}
        declared |= {f"{name}__id__exact" for name in declared} | {f"{name}__exact" for name in declared}
        if lookup not in declared and lookup.split(LOOKUP_SEP)[0] not in declared:
            return False
        return super().lookup_allowed(lookup, value, request)
