# SPDX-License-Identifier: GPL-2.0-or-later
"""The read side behind the REST API, by concept.

- :mod:`.validation`: checking a request's parameters (ids, e-mails, filters, limits);
- :mod:`.cursors`: the keyset cursors of patch lists;
- :mod:`.mapping`: store records and domain objects to the response shapes of
  :mod:`lkml_assistant.models.api`;
- :mod:`.service`: :class:`~.service.QueryService`, the questions the routes ask;
- :mod:`.errors`: what a bad request or an unknown id raises, for the routes to map to 400 and
  404.
"""
