"""Reading many runs as data: select and compare (`compare`), the filter language (`filters`),
seed groups (`groups`) and two-run differences (`diff`). Returns rows; rendering is `report`'s."""
