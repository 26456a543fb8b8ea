-- wrk script of scripts/bench: POST /appointments for a random insuredId on schedule 100
-- of PE (checked against PostgreSQL, never booked: no worker runs during the POST runs).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
request = function()
	local body = string.format('{"insuredId":"%05d","scheduleId":100,"countryISO":"PE"}',
		math.random(0, 99999))
	return wrk.format(nil, nil, nil, body)
end
