"""Publishing feedback: the document model, local files, and Google Drive."""
