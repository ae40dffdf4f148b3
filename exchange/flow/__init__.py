"""Where orders come from besides the API: the platform's generated traders, market makers
and takers that read only durable records (``traders``, what ``exchange run`` uses); the
seeded Titan-only synthetic flow of ``exchange simulate`` and the benchmarks
(``synthetic``); and JSON-lines command files for ``exchange titan`` (``commandfile``)."""
