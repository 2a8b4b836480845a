"""The legacy mobile API (Nest's app API before Works with Nest): sessions, buckets, weather.

A second projection of the same home: buckets are computed from the home's objects and every
write goes through :meth:`roost.service.Service.write`, so both APIs see one home. Its wire
format is in ``docs/legacy-api.md``.
"""
