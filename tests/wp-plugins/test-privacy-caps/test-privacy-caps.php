<?php
/**
 * Plugin Name: wpprivsync test: grantable privacy capabilities
 * Description: Lets a role hold erase_others_personal_data or export_others_personal_data on
 *              its own, as a role-editor plugin would (core maps both to manage_options). Only
 *              a user whose role was given the capability itself is affected.
 *
 * @package wpprivsync-tests
 */

defined( 'ABSPATH' ) || exit;

add_filter(
	'map_meta_cap',
	static function ( $caps, $cap, $user_id ) {
		if ( ! in_array( $cap, array( 'erase_others_personal_data', 'export_others_personal_data' ), true ) ) {
			return $caps;
		}
		$user = get_userdata( $user_id );
		if ( $user && ! empty( $user->allcaps[ $cap ] ) ) {
			return array( $cap );
		}
		return $caps;
	},
	10,
	3
);
