-- Imports of the codebase's own names that no file provides (asset import_graph): such an import
-- raises at run time, so it is no edge and never part of a cycle; it is kept as a row of its own.
-- status: resolved (an edge) or missing (imported = the module Python looks for, imported_path = '').
-- nearest_package: for a missing import, the longest prefix of that name that exists ('' if none).
ALTER TABLE symphony.import_graph ADD COLUMN status text NOT NULL DEFAULT 'resolved';
ALTER TABLE symphony.import_graph ADD COLUMN nearest_package text;
