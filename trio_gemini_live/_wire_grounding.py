"""Grounding metadata the server sends with a turn (PROTOCOL.md 4; see ``_wire``).

Search queries and the sources (web pages, images, places and routes, retrieved context)
with what they support; URL-context retrieval. ``_wire`` re-exports every name, and code
imports them from there; ``events.Grounding`` carries them.
"""

from __future__ import annotations

from ._wire_common import Duration, WireStruct

__all__ = [
    "AuthorAttribution",
    "GroundingChunk",
    "GroundingChunkCustomMetadata",
    "GroundingChunkImage",
    "GroundingChunkMaps",
    "GroundingChunkRetrievedContext",
    "GroundingChunkStringList",
    "GroundingChunkWeb",
    "GroundingMetadata",
    "GroundingSupport",
    "MapsRoute",
    "PlaceAnswerSources",
    "RagChunk",
    "RagChunkPageSpan",
    "RetrievalMetadata",
    "ReviewSnippet",
    "SearchEntryPoint",
    "Segment",
    "SourceFlaggingUri",
    "UrlContextMetadata",
    "UrlMetadata",
]


class GroundingChunkWeb(WireStruct):
    uri: str | None = None
    title: str | None = None
    domain: str | None = None


class GroundingChunkImage(WireStruct):
    source_uri: str | None = None
    image_uri: str | None = None
    title: str | None = None
    domain: str | None = None


class AuthorAttribution(WireStruct):
    display_name: str | None = None
    photo_uri: str | None = None
    uri: str | None = None


class ReviewSnippet(WireStruct):
    author_attribution: AuthorAttribution | None = None
    flag_content_uri: str | None = None
    google_maps_uri: str | None = None
    relative_publish_time_description: str | None = None
    review: str | None = None
    review_id: str | None = None
    title: str | None = None


class PlaceAnswerSources(WireStruct):
    review_snippet: ReviewSnippet | None = None
    review_snippets: list[ReviewSnippet] | None = None
    flag_content_uri: str | None = None


class MapsRoute(WireStruct):
    distance_meters: int | None = None
    duration: Duration | None = None
    encoded_polyline: str | None = None


class GroundingChunkMaps(WireStruct):
    place_answer_sources: PlaceAnswerSources | None = None
    place_id: str | None = None
    text: str | None = None
    title: str | None = None
    uri: str | None = None
    route: MapsRoute | None = None


class RagChunkPageSpan(WireStruct):
    first_page: int | None = None
    last_page: int | None = None


class RagChunk(WireStruct):
    page_span: RagChunkPageSpan | None = None
    text: str | None = None
    chunk_id: str | None = None
    file_id: str | None = None


class GroundingChunkStringList(WireStruct):
    values: list[str] | None = None


class GroundingChunkCustomMetadata(WireStruct):
    key: str | None = None
    numeric_value: float | None = None
    string_list_value: GroundingChunkStringList | None = None
    string_value: str | None = None


class GroundingChunkRetrievedContext(WireStruct):
    document_name: str | None = None
    rag_chunk: RagChunk | None = None
    text: str | None = None
    title: str | None = None
    uri: str | None = None
    custom_metadata: list[GroundingChunkCustomMetadata] | None = None
    file_search_store: str | None = None
    page_number: int | None = None
    media_id: str | None = None


class GroundingChunk(WireStruct):
    """One source: a web page, an image, a place or route, or retrieved context."""

    web: GroundingChunkWeb | None = None
    image: GroundingChunkImage | None = None
    maps: GroundingChunkMaps | None = None
    retrieved_context: GroundingChunkRetrievedContext | None = None


class Segment(WireStruct):
    start_index: int | None = None
    end_index: int | None = None
    part_index: int | None = None
    text: str | None = None


class GroundingSupport(WireStruct):
    segment: Segment | None = None
    grounding_chunk_indices: list[int] | None = None
    confidence_scores: list[float] | None = None
    rendered_parts: list[int] | None = None


class SearchEntryPoint(WireStruct):
    rendered_content: str | None = None
    sdk_blob: bytes | None = None


class RetrievalMetadata(WireStruct):
    google_search_dynamic_retrieval_score: float | None = None


class SourceFlaggingUri(WireStruct):
    flag_content_uri: str | None = None
    source_id: str | None = None


class GroundingMetadata(WireStruct):
    """Grounding: the queries, the sources (web, image, maps, retrieval) and what they support."""

    web_search_queries: list[str] | None = None
    image_search_queries: list[str] | None = None
    retrieval_queries: list[str] | None = None
    grounding_chunks: list[GroundingChunk] | None = None
    grounding_supports: list[GroundingSupport] | None = None
    search_entry_point: SearchEntryPoint | None = None
    retrieval_metadata: RetrievalMetadata | None = None
    google_maps_widget_context_token: str | None = None
    source_flagging_uris: list[SourceFlaggingUri] | None = None


class UrlMetadata(WireStruct):
    retrieved_url: str | None = None
    url_retrieval_status: str | None = None


class UrlContextMetadata(WireStruct):
    url_metadata: list[UrlMetadata] | None = None
