module peernet.local/pause

go 1.26
