"""Where orders come from: the platform's generated traders, market makers
and takers that read only durable records (``traders``, what ``exchange run`` uses); the
seeded Titan-only synthetic flow of ``exchange simulate`` and the benchmarks
(``synthetic``); the seeded mixed venue stream of the venue tests and benchmark
(``venue_stream``); and JSON-lines command files for ``exchange titan`` (``commandfile``)."""
