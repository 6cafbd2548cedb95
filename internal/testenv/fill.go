package testenv

import (
	"reflect"
	"time"
)

// Fill sets every exported field *p reaches to a value that is not zero
// (strings with characters JSON escapes, times with nanoseconds and a zone,
// an `any` to a nested object), so that a value so filled exercises every
// field an encoder or a decoder must handle, fields added later included.
func Fill[T any](p *T) { fill(reflect.ValueOf(p).Elem(), 0) }

func fill(v reflect.Value, depth int) {
	switch v.Type() {
	case reflect.TypeFor[time.Time]():
		v.Set(reflect.ValueOf(time.Date(2026, 12, 3, 22, 30, 0, 123456789, time.FixedZone("", 3600))))
		return
	case reflect.TypeFor[any]():
		v.Set(reflect.ValueOf(map[string]any{"s": "é <b> \u2028", "n": 1.5e-7, "l": []any{true, nil, 3.0, map[string]any{}}}))
		return
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString("a \"<é>\" \n" + v.Type().Name())
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(int64(7 + depth))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(uint64(9 + depth))
	case reflect.Array:
		for i := range v.Len() {
			fill(v.Index(i), depth)
		}
	case reflect.Float32, reflect.Float64:
		v.SetFloat(0.1 + float64(depth))
	case reflect.Pointer:
		if depth > 6 {
			return
		}
		v.Set(reflect.New(v.Type().Elem()))
		fill(v.Elem(), depth+1)
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fill(v.Field(i), depth)
			}
		}
	case reflect.Slice:
		if depth > 6 {
			return
		}
		v.Set(reflect.MakeSlice(v.Type(), 2, 2))
		for i := range 2 {
			fill(v.Index(i), depth+1)
		}
	case reflect.Map:
		if depth > 6 {
			return
		}
		v.Set(reflect.MakeMap(v.Type()))
		k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
		fill(k, depth+1)
		fill(e, depth+1)
		v.SetMapIndex(k, e)
	}
}
